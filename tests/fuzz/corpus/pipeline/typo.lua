surface "x" {
  retreive = {}
}
