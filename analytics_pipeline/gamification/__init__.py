"""gamification layer."""
