"""Schema migrations, one module each (mNNNN_name.py with `upgrade(conn, dialect)`), never edited once released."""
