"""The stores: SQL (models, migrations) and Redis (clients, Lua scripts)."""
