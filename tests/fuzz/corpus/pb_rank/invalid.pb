
	home_feedc2@