"""Application services: the operations pages, API and commands share."""
