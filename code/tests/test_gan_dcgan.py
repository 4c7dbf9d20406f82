"""The convolutional (DCGAN-style) networks of the GAN chapter: shapes, ranges, errors, training."""
import pytest
import torch

from genmech import digits
from genmech.gan import (GAN, GANConfig, count_parameters, dcgan_discriminator, dcgan_generator,
                         discriminator_loss)
from genmech.gan_demos import DigitsDCGAN


def test_generator_maps_noise_to_flat_8x8_images_in_0_1():
    torch.manual_seed(0)
    G = dcgan_generator(noise_dim=5, channels=8)
    x = G(torch.rand(7, 5) * 2 - 1)
    assert x.shape == (7, 64)
    assert x.min() >= 0 and x.max() <= 1
    # the transposed convolutions double the side: 2 -> 4 -> 8
    h = G[:3](torch.zeros(2, 5))
    assert h.shape == (2, 8, 2, 2)
    assert G[:6](torch.zeros(2, 5)).shape == (2, 4, 4, 4)


def test_discriminator_gives_one_logit_per_image_and_uses_no_pooling():
    D = dcgan_discriminator(channels=4)
    assert D(torch.rand(3, 64)).shape == (3, 1)
    assert D[:2](torch.rand(3, 64)).shape == (3, 4, 4, 4)          # stride 2 halves 8 -> 4
    assert not any(isinstance(m, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)) for m in D.modules())
    assert any(isinstance(m, torch.nn.LeakyReLU) for m in D.modules())


def test_count_parameters_matches_the_layer_formula():
    layer = torch.nn.ConvTranspose2d(6, 3, kernel_size=4)
    assert count_parameters(layer) == 6 * 3 * 4 * 4 + 3
    G = dcgan_generator(noise_dim=2, channels=4)
    expected = (2 * 16 + 16) + 2 * 4 + (4 * 2 * 16 + 2) + 2 * 2 + (2 * 1 * 16 + 1)
    assert count_parameters(G) == expected


@pytest.mark.parametrize("call", [lambda: dcgan_generator(noise_dim=0),
                                  lambda: dcgan_generator(channels=1),
                                  lambda: dcgan_generator(channels=2.5),
                                  lambda: dcgan_discriminator(channels=-3),
                                  lambda: dcgan_discriminator(slope=1.5)])
def test_wrong_arguments_raise_a_readable_error(call):
    with pytest.raises(ValueError, match="must"):
        call()


def test_gan_class_trains_the_networks_it_is_given():
    X, _, _, _ = digits.load()
    torch.manual_seed(0)
    cfg = GANConfig(loss="non-saturating", lr_d=2e-3, lr_g=2e-3, noise_dim=8, batch=64)
    G, D = dcgan_generator(8, 16), dcgan_discriminator(8)
    gan = GAN(X, cfg, G=G, D=D)
    assert gan.G is G and gan.D is D
    before = [p.detach().clone() for p in G.parameters()]
    gan.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, G.parameters()))


def test_a_short_training_brings_the_samples_toward_the_data():
    """200 rounds: the judge's features of the samples move toward the real digits', and the
    discriminator, trained alongside, can no longer separate them as easily as at the start."""
    X, _, _, _ = digits.load()
    demo = DigitsDCGAN(channels=32)
    real = X[:500]

    def gap():
        fake = demo.samples(500)
        with torch.no_grad():
            return (discriminator_loss(demo.gan.D(real), demo.gan.D(fake)).item(),
                    (digits.features(fake).mean(0) - digits.features(real).mean(0)).norm().item())

    _, start_distance = gap()
    for _ in range(200):
        demo.train_step()
    d_loss, distance = gap()
    assert distance < 0.5 * start_distance
    assert d_loss > 0.5        # no longer a clean separation (that would be a loss near 0)
