"""Alembic migrations of the ClusterPBX database (run with `clusterpbx db upgrade`)."""
