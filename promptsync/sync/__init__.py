"""The sync engine: scan the tree, plan against the synced state and the server, push, pull."""
