import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { ApproveRequestDto } from '../../src/approval/approve-request.dto';
import { GenerateRequestDto } from '../../src/generation/generate-request.dto';
import { storyTextProblem } from '../../src/http/story-text.validator';
import { isSessionId } from '../../src/sessions/session-id';

async function problems(cls: new () => object, body: object): Promise<string[]> {
  const errors = await validate(plainToInstance(cls, body), { whitelist: true, forbidNonWhitelisted: true });
  return errors.flatMap((e) => Object.values(e.constraints ?? {}));
}

describe('story text', () => {
  it.each([
    ['Test story', null],
    ['   ', 'story_text must not be blank'],
    ['a\u0000b', 'story_text must not contain control characters'],
    ['tab\tand\nnewlines\r\nare fine', null],
    ['lone \ud800 surrogate', 'story_text must be valid Unicode text (it contains a lone surrogate)'],
    ['😀'.repeat(50_000), null],
    ['a'.repeat(50_001), 'story_text must be at most 50000 characters'],
  ])('%#: %s', (text, expected) => {
    expect(storyTextProblem(text)).toBe(expected);
  });
});

describe('GenerateRequestDto', () => {
  it('fills the defaults', async () => {
    const dto = plainToInstance(GenerateRequestDto, { story_text: 'x' });
    expect(dto).toMatchObject({ media_type: 'cinematic', num_scenes: 5 });
    expect(await problems(GenerateRequestDto, { story_text: 'x' })).toEqual([]);
  });

  it.each([
    [{ story_text: 'x', num_scenes: 21 }, 'num_scenes must be at most 20'],
    [{ story_text: 'x', num_scenes: 0 }, 'num_scenes must be at least 1'],
    [{ story_text: 'x', num_scenes: 2.5 }, 'num_scenes must be an integer'],
    [{ story_text: 'x', num_scenes: '3' }, 'num_scenes must be an integer'],
    [{ story_text: 'x', num_scenes: null }, 'num_scenes must be an integer'],
    [{ story_text: 'x', num_scenes: [30] }, 'num_scenes must be an integer'],
    [{ story_text: 'x', media_type: 'anime' }, 'media_type must be one of: cinematic, cartoon, realistic'],
    [{ story_text: 'x', media_type: null }, 'media_type must be one of: cinematic, cartoon, realistic'],
    [{ story_text: 'x', extra: 1 }, 'property extra should not exist'],
  ])('rejects %j with only %j', async (body, message) => {
    expect(await problems(GenerateRequestDto, body)).toEqual([message]);
  });
});

describe('ApproveRequestDto', () => {
  const id = '7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e';
  it.each([
    [{ session_id: id, approved_scenes: [0, 2] }, []],
    [{ session_id: id, approved_scenes: [] }, ['approved_scenes must not be empty']],
    [{ session_id: id, approved_scenes: [1, 1] }, ['approved_scenes must not contain duplicates']],
    [{ session_id: id, approved_scenes: [-1] }, ['approved_scenes must not contain negative indices']],
    [{ session_id: id, approved_scenes: [-1, -1] }, ['approved_scenes must not contain negative indices']],
    [{ session_id: id, approved_scenes: ['0'] }, ['approved_scenes must contain integers only']],
    [{ session_id: id, approved_scenes: ['0', '0'] }, ['approved_scenes must contain integers only']],
    [{ session_id: id, approved_scenes: [-0.5] }, ['approved_scenes must contain integers only']],
    [{ session_id: id, approved_scenes: [Infinity] }, ['approved_scenes must contain integers only']],
    [{ session_id: id, approved_scenes: [1e308] }, []],
    [{ session_id: id, approved_scenes: '0' }, ['approved_scenes must be an array of scene indices']],
    [{ session_id: id }, ['approved_scenes must be an array of scene indices']],
    [
      { session_id: id, approved_scenes: Array.from({ length: 101 }, (_, i) => -i) },
      ['approved_scenes must contain at most 100 indices'],
    ],
    [{ session_id: 'x', approved_scenes: [0] }, ['session_id must be a UUID']],
  ])('%j → %j', async (body, expected) => {
    expect(await problems(ApproveRequestDto, body)).toEqual(expected);
  });
});

describe('session ids', () => {
  it('accepts UUIDs only', () => {
    expect(isSessionId('7B0C8E9E-1F8A-4A59-9D7C-1F4A2B3C4D5E')).toBe(true);
    expect(isSessionId('../../etc/passwd')).toBe(false);
    expect(isSessionId('7b0c8e9e-1f8a-4a59-9d7c-1f4a2b3c4d5e/..')).toBe(false);
  });
});
