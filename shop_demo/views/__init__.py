"""The shop's views, one module per area: catalogue, images, cart, checkout, account."""
