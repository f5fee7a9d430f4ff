"""Pure pipeline logic: audio, utterance assembly, recognition. No Kafka here."""
