"""GraphQL layer: Strawberry types, inputs, loaders, resolvers."""
