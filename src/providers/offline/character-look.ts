import { hashText, seededRandom } from './seeded-random';

/**
 * A character's look as the offline planner invents it: concrete enough to draw from (and to hold an image
 * model to), picked from small lists by a hash of the name, so the same name always gets the same look.
 * The offline renderer draws its portraits from the same look (height, build, hair).
 */
export interface CharacterLook {
  age: string;
  /** Height of the figure relative to an adult's. */
  stature: number;
  build: string;
  /** Torso width of the figure, in hundredths of the portrait's height. */
  torsoWidth: number;
  hair: string;
  hairColour: string;
  longHair: boolean;
  clothing: string;
  palette: string;
}

const AGES = [
  { age: 'a child of about ten', stature: 0.78 },
  { age: 'a teenager of about fifteen', stature: 0.92 },
  { age: 'a young adult in their twenties', stature: 1 },
  { age: 'an adult in their forties', stature: 1 },
  { age: 'an older adult in their late sixties', stature: 0.97, grey: true },
];

const BUILDS = [
  { build: 'slight', torsoWidth: 15 },
  { build: 'wiry', torsoWidth: 17 },
  { build: 'average', torsoWidth: 19 },
  { build: 'sturdy', torsoWidth: 22 },
  { build: 'broad-shouldered', torsoWidth: 24 },
];

const HAIR_COLOURS = [
  { name: 'black', hex: '#1d1a19' },
  { name: 'dark brown', hex: '#3b2618' },
  { name: 'chestnut', hex: '#6a3b1f' },
  { name: 'auburn', hex: '#8d3a1c' },
  { name: 'sandy blond', hex: '#c8a165' },
];
const GREY_HAIR = { name: 'silver-grey', hex: '#b9b9b4' };

const HAIR_STYLES = [
  { style: 'short cropped', long: false },
  { style: 'short curly', long: false },
  { style: 'shoulder-length wavy', long: true },
  { style: 'long straight', long: true },
  { style: 'long braided', long: true },
  { style: 'chin-length tousled', long: false },
];

/** Main and accent colour of an outfit: the outfit is made of them, so the palette and clothing agree. */
const PALETTES = [
  ['forest green', 'cream'],
  ['navy blue', 'mustard yellow'],
  ['rust red', 'charcoal grey'],
  ['teal', 'sand beige'],
  ['plum purple', 'pale grey'],
  ['ochre', 'olive green'],
  ['burgundy', 'slate blue'],
  ['sky blue', 'white'],
];

const OUTER = ['hooded jacket', 'long wool coat', 'knitted jumper', 'canvas work jacket', 'quilted vest'];
const UNDER = ['shirt', 'T-shirt', 'turtleneck'];
const LEGS = ['dark trousers', 'faded blue jeans', 'brown corduroy trousers', 'a knee-length grey skirt'];
const SHOES = ['brown leather boots', 'black canvas sneakers', 'worn walking shoes'];

export function characterLook(name: string): CharacterLook {
  const random = seededRandom(hashText(name));
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
  const age = pick(AGES);
  const build = pick(BUILDS);
  const hairColour = age.grey ? GREY_HAIR : pick(HAIR_COLOURS);
  const hairStyle = pick(HAIR_STYLES);
  const [main, accent] = pick(PALETTES);
  const outer = pick(OUTER);
  return {
    age: age.age,
    stature: age.stature,
    build: build.build,
    torsoWidth: build.torsoWidth,
    hair: `${hairStyle.style} ${hairColour.name} hair`,
    hairColour: hairColour.hex,
    longHair: hairStyle.long,
    clothing: `a ${main} ${outer} over a ${accent} ${pick(UNDER)}, ${pick(LEGS)} and ${pick(SHOES)}`,
    palette: `${main} and ${accent}`,
  };
}

/** The look as one line of a cast sheet, in the order an illustrator reads it: age, build, hair, clothing. */
export function describeLook(look: CharacterLook): string {
  return `${look.age}, ${look.build} build, ${look.hair}; wears ${look.clothing}; palette ${look.palette}`;
}
