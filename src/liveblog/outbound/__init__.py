"""What leaves the site: the outbox relay and its destinations (CDN purge targets, webhooks)."""
