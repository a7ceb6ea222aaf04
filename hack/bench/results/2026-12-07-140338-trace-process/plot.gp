set terminal pngcairo size 960,840 font ',10'
set output 'plot.png'
set multiplot layout 2,2 margins 0.07,0.98,0.07,0.9 spacing 0.08,0.13
set key at screen 0.5,0.985 center top horizontal box
set logscale x
set xrange [0.5:2]
set xlabel 'services installed'
set grid
set xtics (1, 10, 100, 1000, 10000)
set title 'short TCP connections, 1 at a time'
set ylabel 'conn/s'
set yrange [0:*]
plot 'plot-data.txt' index 0 using 1:2 with linespoints lw 2 lc rgb '#333333' pt 7 title 'direct', 'plot-data.txt' index 0 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'socklb', 'plot-data.txt' index 0 using 1:4 with linespoints lw 2 lc rgb '#2ca02c' pt 9 title 'nftables', 'plot-data.txt' index 0 using 1:5 with linespoints lw 2 lc rgb '#d62728' pt 11 title 'iptables'
set title 'short TCP connections, 32 concurrent'
set ylabel 'conn/s'
set yrange [0:*]
plot 'plot-data.txt' index 1 using 1:2 with linespoints lw 2 lc rgb '#333333' pt 7 title 'direct', 'plot-data.txt' index 1 using 1:3 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'socklb', 'plot-data.txt' index 1 using 1:4 with linespoints lw 2 lc rgb '#2ca02c' pt 9 title 'nftables', 'plot-data.txt' index 1 using 1:5 with linespoints lw 2 lc rgb '#d62728' pt 11 title 'iptables'
set title 'short TCP connections, 1 at a time'
set ylabel 'p99 latency, µs'
set yrange [0:*]
plot 'plot-data.txt' index 0 using 1:6 with linespoints lw 2 lc rgb '#333333' pt 7 title 'direct', 'plot-data.txt' index 0 using 1:7 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'socklb', 'plot-data.txt' index 0 using 1:8 with linespoints lw 2 lc rgb '#2ca02c' pt 9 title 'nftables', 'plot-data.txt' index 0 using 1:9 with linespoints lw 2 lc rgb '#d62728' pt 11 title 'iptables'
set title 'short TCP connections, 32 concurrent'
set ylabel 'p99 latency, µs'
set yrange [0:*]
plot 'plot-data.txt' index 1 using 1:6 with linespoints lw 2 lc rgb '#333333' pt 7 title 'direct', 'plot-data.txt' index 1 using 1:7 with linespoints lw 2 lc rgb '#1f77b4' pt 5 title 'socklb', 'plot-data.txt' index 1 using 1:8 with linespoints lw 2 lc rgb '#2ca02c' pt 9 title 'nftables', 'plot-data.txt' index 1 using 1:9 with linespoints lw 2 lc rgb '#d62728' pt 11 title 'iptables'
unset multiplot
