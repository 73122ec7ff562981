"""What a consumer run leaves behind: the JSON run report, and the Markdown report with figures made from it."""
