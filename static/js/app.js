// Chorus: small helpers where htmx cannot do it. Page-specific scripts live beside this one.
