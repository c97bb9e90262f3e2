# expect-lost: nothing
# copy-of: indep_moduledict (reformatted, comments and a docstring added)
import torch
from torch import nn
from torch.nn import functional as F


class ResBlk( nn.Module ):
    '''My residual block.'''
    def __init__( self, ch_in, ch_out, stride = 1 ):
        super( ).__init__( )
        # the layers of the block, by role
        parts = { 'conv_in': nn.Conv2d( ch_in, ch_out,
                                        kernel_size = (3, 3), stride = (stride, stride), padding = (1, 1) ),
                  'bn_in': nn.BatchNorm2d( num_features = ch_out ),
                  'conv_out': nn.Conv2d( ch_out, ch_out, kernel_size = (3, 3), padding = (1, 1) ),
                  'bn_out': nn.BatchNorm2d( num_features = ch_out ) }
        self.has_projection = not ( stride == 1 and ch_in == ch_out )   # projection needed?
        if self.has_projection:
            parts[ 'conv_skip' ] = nn.Conv2d( ch_in, ch_out,
                                              kernel_size = (1, 1),
                                              stride = (stride, stride) )
            parts[ 'bn_skip' ] = nn.BatchNorm2d( num_features = ch_out )
        self.parts = nn.ModuleDict( parts )

    def forward( self, x ):
        p = self.parts
        # main branch
        main = p[ 'bn_out' ]( p[ 'conv_out' ]( F.relu( p[ 'bn_in' ]( p[ 'conv_in' ]( x ) ) ) ) )
        side = ( p[ 'bn_skip' ]( p[ 'conv_skip' ]( x ) )
                 if self.has_projection else x )
        return F.relu( torch.add( main, side ), inplace = True )
