"""The PostgreSQL serving database: its schema generated from the catalogue, and the export."""
