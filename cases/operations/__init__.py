"""The case use cases, one module per family; ``cases.services`` gathers them."""
