"""What the assistant hears: the streaming listener (`listener`: echo guard, noise
suppression, endpointer), the echo canceller (`echo`) and its delay (`delay`), noise
suppression (`denoise`) and the recognition engines (`engines`)."""
