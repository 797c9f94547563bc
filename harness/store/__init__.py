"""What a study keeps: its journals and tables, resume, the evaluation cache, the schema."""
