"""Fortnox WebSocket events: protocol, the shared socket per app, the watcher trigger, offsets."""
