"""Onboarding a tenant: Fortnox's consent (authorization-code flow), from the jetfort page or the CLI."""
