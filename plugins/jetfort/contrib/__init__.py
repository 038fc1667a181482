"""Plugins shipped with jetfort as examples for tenants (enable them in ``rules.plugins``)."""
