/** File names inside a session's folder and the ZIP are generated here, never taken from input. */
export function sceneFileBase(index: number): string {
  return `scene_${String(index + 1).padStart(2, '0')}`;
}

const SAFE_FILE = /^scene_\d{2,3}\.(png|jpg|webp|gif)$/;

export function isSceneFileName(name: string): boolean {
  return SAFE_FILE.test(name);
}
