"""Pure domain: the things a live blog is made of and the rules they obey. No HTTP, no SQL."""
