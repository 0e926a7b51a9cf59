"""The history function: reads of messages and conversations, read marks, recall and edit."""
