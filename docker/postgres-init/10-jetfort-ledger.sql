-- Runs once, when the postgres container initialises an empty data directory: jetfort's ledger
-- gets its own database next to Airflow's metadata database (owner: POSTGRES_USER).
CREATE DATABASE jetfort_ledger;
