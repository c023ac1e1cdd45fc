"""Long-running pollers and streams that keep the database current."""
