
	home_feed