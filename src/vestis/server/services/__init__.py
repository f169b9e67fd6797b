"""Business logic, one module per resource; may import guard/, store/, jobqueue/, media/, errors."""
