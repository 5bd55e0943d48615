"""rest: HTTP requests with templates, paging, retries and a rate limit."""
