surface "x" { retrieve = { { "nope" } } }
