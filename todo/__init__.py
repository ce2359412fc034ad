"""To-do lists: per-agency templates, tasks, reminders and escalation (see services.py)."""
