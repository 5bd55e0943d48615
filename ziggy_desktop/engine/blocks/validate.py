"""validate: JSON Schema checks on records; invalid ones go to their own output with the reasons."""
