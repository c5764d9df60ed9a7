// Host function binding for random.c (XS syntax: `@ "name"` binds a function to a C function).
// Listed in manifest.json as the module "board-random".
function fillRandom(buffer) @ "xs_board_fill_random";
export default fillRandom;
