"""Token and cost accounting: what each model call used, what it cost, per day and session."""
