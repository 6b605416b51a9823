"""The store: the database (models, sessions, migrations) and the raw message files.

Nothing here knows the pipeline: every stage reads and writes through these models, and the
schema changes only by an Alembic revision (migrations/).
"""
