"""GO policy networks: GraphSAGE encoder, Transformer-XL policy, joint task heads."""
