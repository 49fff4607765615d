"""`promptsync import`: prompts kept as text, Markdown, CSV, Prompty or Dotprompt, to files."""
