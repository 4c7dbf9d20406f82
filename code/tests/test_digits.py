"""genmech.digits reads scikit-learn's digits without importing scikit-learn."""
import subprocess
import sys

import numpy as np
from sklearn.datasets import load_digits

from genmech import digits


def test_raw_digits_equal_scikit_learns():
    data, target = digits.raw()
    d = load_digits()
    assert data.shape == (1797, 64) and target.shape == (1797,)
    np.testing.assert_array_equal(data, d.data)
    np.testing.assert_array_equal(target, d.target)


def test_load_splits_every_image_once_in_0_1():
    X_train, y_train, X_test, y_test = digits.load()
    assert len(X_train) + len(X_test) == 1797 and X_train.shape[1] == digits.PIXELS
    assert float(X_train.min()) == 0.0 and float(X_train.max()) == 1.0
    assert sorted(set(y_test.tolist())) == list(range(10))


def test_the_digits_and_the_2d_datasets_do_not_import_scikit_learn():
    """Importing scikit-learn takes a second in every notebook that would do it."""
    code = ("import sys; from genmech import data, digits; digits.load(); data.density('ring');"
            "data.classification('xor'); print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
