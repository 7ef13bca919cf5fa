"""The lead store: SQLAlchemy Core tables, migrations, and the operations on them."""
