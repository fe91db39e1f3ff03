"""What a person looks at: figures (matplotlib) and self-contained HTML reports."""
