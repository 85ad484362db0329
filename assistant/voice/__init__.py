"""What the assistant says: text to speech (`tts`), and playing it on a timeline or a device
under the priority rules (`player`)."""
