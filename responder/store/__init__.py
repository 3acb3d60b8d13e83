"""Redis: keys, connections and the records kept there."""
