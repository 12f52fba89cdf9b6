"""Reports the offices circulate (bulletins, lists), built from the same queries as GraphQL."""
