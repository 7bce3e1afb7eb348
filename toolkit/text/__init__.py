"""Text helpers plugins share: specification terms in zh and en, numbers, prices and
currencies in text, and the check that generated text states only the product's facts."""
