"""Read queries, one module per aggregate. Each function takes an AsyncSession and
keyword-only arguments and returns SQLAlchemy Rows; no GraphQL types here."""
