// Text stage — see the doc comment written when the stage lands.
