import { registerDecorator, ValidationOptions } from 'class-validator';

/**
 * A property checked by one function that names the first thing wrong with its value (or returns null),
 * so a bad value gets one message, not one per constraint it happens to break.
 */
export function SatisfiesCheck(
  name: string,
  problem: (value: unknown) => string | null,
  options?: ValidationOptions,
): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      options,
      validator: {
        validate: (value: unknown) => problem(value) === null,
        defaultMessage: (args) => problem(args?.value) ?? `${propertyName as string} is invalid`,
      },
    });
}
