"""Newsletter service package."""
