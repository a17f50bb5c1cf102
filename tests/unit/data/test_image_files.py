"""Image files for predict: any size, grey or colour, either polarity."""

from __future__ import annotations

from PIL import Image


def test_invert_modes_and_colour_images(tmp_path):
    from ml_experiments.data.image_files import load_image

    grey = tmp_path / "dark_on_light.png"
    page = Image.new("L", (28, 28), 255)
    page.paste(0, (10, 4, 18, 24))  # a dark stroke on white paper
    page.save(grey)
    shape = (1, 28, 28)
    assert load_image(grey, shape, "never")[0, 0, 0] == 1.0
    assert load_image(grey, shape, "always")[0, 0, 0] == 0.0
    assert load_image(grey, shape, "auto")[0, 0, 0] == 0.0  # guessed: light border
    photo = tmp_path / "sky.png"
    Image.new("RGB", (32, 32), (200, 220, 255)).save(photo)
    colour = load_image(photo, (3, 32, 32), "auto")
    assert colour.shape == (3, 32, 32) and colour[2, 0, 0] == 1.0  # a photo is not inverted
